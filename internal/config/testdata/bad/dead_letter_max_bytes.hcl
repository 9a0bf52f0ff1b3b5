influxdb {
  url                   = "http://127.0.0.1:8086"
  bucket                = "logs"
  dead_letter_max_bytes = 64 * 1024
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
    time {
      from   = "ts"
      layout = "rfc3339"
    }
  }
}
