influxdb {
  url    = "http://127.0.0.1:8086"
  token  = env("LOGMETRICS_TEST_UNSET")
  bucket = env("LOGMETRICS_TEST_UNSET", "logs")
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
