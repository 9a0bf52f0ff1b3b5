source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    regex  = "n=(?P<n>\\d+)"
    json   = true
    logfmt = true
    fields = { n = "int" }
  }
}
