influxdb {
  url    = "http://127.0.0.1:8086"
  bucket = "logs"
}

source "both" {
  paths = ["/var/log/a.log"]
  multiline {
    start     = "^\\["
    continue  = "^\\s"
    max_lines = 0
    timeout   = "-1s"
  }
  rule "a" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
  }
}

source "neither" {
  paths = ["/var/log/b.log"]
  multiline {
    timeout = "soon"
  }
  rule "b" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
  }
}

source "bad_regex" {
  paths = ["/var/log/c.log"]
  multiline {
    start = "^(\\["
  }
  rule "c" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
  }
}

source "structured" {
  paths = ["/var/log/d.log"]
  multiline {
    continue = "^\\s"
  }
  rule "d_json" {
    json   = true
    fields = { n = "int" }
  }
  rule "d_logfmt" {
    logfmt = true
    fields = { n = "int" }
  }
}
