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
      window     = "10s"
      stats      = ["count", "median", "p100", "p0", "p99.9", "count", "p1e1"]
      buckets    = [1, 5, 2, "x"]
      max_series = 0
    }
  }
}
