# Every numeric type: uint keeps unsigned sums and extremes, a duration is
# float seconds; string and bool fields are not aggregated. A line without
# any field value still counts, and buckets cover every numeric field.
source "app" {
  paths = ["input.log"]
  rule "jobs" {
    json = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    tags   = { queue = "queue" }
    fields = { bytes = "uint", took = "duration", ok = "bool", user = "string" }
    aggregate {
      window  = "1h"
      stats   = ["sum", "min", "max", "mean"]
      buckets = [0.5, 1000]
    }
  }
}
