influxdb {
  url        = "https://influx.example.com"
  bucket     = "logs"
  max_pending = 2000000000
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
