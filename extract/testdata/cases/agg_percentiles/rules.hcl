# Percentiles from a DDSketch of 1% relative accuracy, within the window's
# exact minimum and maximum; p99.9 is written p99_9.
source "app" {
  paths = ["input.log"]
  rule "latency" {
    logfmt = true
    time {
      from   = "t"
      layout = "unix"
    }
    fields = { ms = "int", s = "float" }
    aggregate {
      window = "1m"
      stats  = ["p50", "p90", "p99", "p99.9", "max"]
    }
  }
}
