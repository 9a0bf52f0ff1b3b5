source "app" {
  paths   = ["/var/log/[app.log", ""]
  exclude = { gz = "*.gz" }
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
