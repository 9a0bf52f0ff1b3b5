agent {
  state_dir = "/var/lib/logmetrics"     # positions live here
  listen    = "127.0.0.1:9275"          # self-metrics and health; "" turns it off
  tags      = { host = hostname() }     # added to every point
  unhealthy_after = "2m"                # /healthz: writes failing this long
}
# Leave this block out and points go to stdout as line protocol.
influxdb {
  url            = "http://127.0.0.1:8086"
  token          = env("INFLUX_TOKEN")  # InfluxDB 1.8: "user:password" or ""
  org            = "example"
  bucket         = "logs"               # InfluxDB 1.8: "database/retention_policy"
  batch_size     = 5000
  flush_interval = "1s"
  max_pending    = 100000               # points held before the tailers pause
  dead_letter_max_bytes = 16 * 1024 * 1024 # refused points, in state_dir
}
source "nginx" {
  paths    = ["/var/log/nginx/access.log", "/var/log/nginx/*/access.log"]
  exclude  = ["*.gz"]
  start_at = "end"                      # for a file seen for the first time
  tags     = { service = "shop" }
  rule "nginx_requests" {
    regex = <<-EOT
      ^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "02/Jan/2006:15:04:05 -0700"
    }
    tags   = ["method", "status"]
    fields = { bytes = "int", request_time = "float" }
  }
  rule "nginx_traffic" {
    regex = <<-EOT
      \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) .* (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "%d/%b/%Y:%H:%M:%S %z"
    }
    tags   = { status_class = "status" }
    fields = { bytes = "int", request_time = "float" }
    aggregate {
      window = "10s"
      stats  = ["count", "sum", "max", "p50", "p99"]
    }
  }
}
source "app" {
  paths = ["/srv/app/logs/*.jsonl"]
  rule "app_requests" {
    json = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    tags = { route = "http.route", method = "http.method", status = "http.status" }
    field "duration_seconds" {
      from  = "duration_ms"
      type  = "float"
      scale = 0.001
    }
    fields = { bytes = "int" }
  }
}
