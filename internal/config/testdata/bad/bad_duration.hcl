influxdb {
  url            = "http://127.0.0.1:8086"
  bucket         = "logs"
  flush_interval = "1 s"
  timeout        = "0s"
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    fields = { n = "int" }
    aggregate {
      window   = "ten seconds"
      stats    = ["count"]
      lateness = "-1s"
    }
  }
}
