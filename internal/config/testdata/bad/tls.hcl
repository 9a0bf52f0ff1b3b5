influxdb {
  url    = "http://127.0.0.1:8086"
  bucket = "logs"
  token  = env("INFLUX_TOKEN")
  tls {
    ca_file              = "missing-ca.pem"
    cert_file            = "client.pem"
    insecure_skip_verify = true
  }
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
