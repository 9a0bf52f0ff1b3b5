influxdb {
  url         = "127.0.0.1:8086"
  bucket      = ""
  batch_size  = 0
  max_pending = 1000
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
