agent {
  log_level    = "verbose"
  log_format   = "xml"
  self_metrics = "often"
  unhealthy_after = "0s"
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
