source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    regex  = "^n=(?P<n>\\d+)$"
    fields = { n = "int", bytes = "int" }
    field "seconds" {
      from  = "millis"
      scale = 0.001
    }
  }
}
