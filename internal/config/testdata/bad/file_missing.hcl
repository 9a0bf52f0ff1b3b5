influxdb {
  url    = "http://127.0.0.1:8086"
  token  = file("no-such-token.txt")
  bucket = "logs"
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
