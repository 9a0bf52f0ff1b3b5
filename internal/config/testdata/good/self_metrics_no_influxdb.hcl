agent {
  self_metrics = "30s" # written nowhere: there is no influxdb block
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    regex  = "^(?P<n>\\d+)$"
    fields = { n = "int" }
  }
}
