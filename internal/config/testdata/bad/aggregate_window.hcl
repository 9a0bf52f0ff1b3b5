source "app" {
  paths = ["/var/log/app.log"]
  rule "seven" {
    logfmt = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    fields = { n = "int", user = "string", ok = "bool" }
    aggregate {
      window   = "7s"
      stats    = ["count", "p99.9"]
      lateness = "-1s"
    }
  }
  rule "two_days" {
    logfmt = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    fields = { n = "int" }
    aggregate {
      window = "48h"
      stats  = ["sum"]
    }
  }
}
