source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "integer", ok = "bool" }
    field "took" {
      type = "seconds"
    }
  }
}
