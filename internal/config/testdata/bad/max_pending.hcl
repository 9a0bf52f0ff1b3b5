influxdb {
  url        = "https://influx.example.com"
  bucket     = "logs"
  batch_size = 200000
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
