influxdb {
  url        = "http://127.0.0.1:8086"
  bucket     = "logs"
  batch_size = "many"
}
source "app" {
  paths = "/var/log/app.log"
  rule "lines" {
    logfmt = "yes"
    fields = { n = "int" }
  }
}
