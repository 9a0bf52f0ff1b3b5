source "s" {
  paths = ["input.log"]
  rule "secs" {
    logfmt = true
    time {
      from   = "s"
      layout = "unix"
    }
    fields = { v = "int" }
  }
  rule "millis" {
    logfmt = true
    time {
      from   = "ms"
      layout = "unix_ms"
    }
    fields = { v = "int" }
  }
  rule "micros" {
    logfmt = true
    time {
      from   = "us"
      layout = "unix_us"
    }
    fields = { v = "int" }
  }
  rule "nanos" {
    logfmt = true
    time {
      from   = "ns"
      layout = "unix_ns"
    }
    fields = { v = "int" }
  }
}
