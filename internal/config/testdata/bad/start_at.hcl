source "app" {
  paths    = ["/var/log/app.log"]
  start_at = "tail"
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
