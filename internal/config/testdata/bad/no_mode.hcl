source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    json   = false
    fields = { n = "int" }
  }
}
