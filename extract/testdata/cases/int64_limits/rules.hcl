# InfluxDB stores times in [MinInt64+2, MaxInt64-1] ns. A time outside is a
# bad time; a point that could only be separated past the last storable
# nanosecond is a bad time too, never a wrapped-around timestamp.
source "app" {
  paths = ["input.log"]
  rule "rfc" {
    regex = "^(?P<time>\\d{4}-\\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "rfc3339nano"
    }
    fields = { v = "int" }
  }
  rule "ns" {
    regex = "^ns (?P<time>\\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "unix_ns"
    }
    fields = { v = "int" }
  }
}
