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

# An example whose second line starts a record, and one longer than
# max_lines: the rule never sees either.
source "split_example" {
  paths = ["/var/log/e.log"]
  multiline {
    start     = "^\\["
    max_lines = 2
  }
  rule "e" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
    example {
      line   = "[1] a\n[2] b"
      expect = "e n=1i"
    }
    example {
      line   = "[1] a\n\tat x\n\tat y"
      expect = "e n=1i"
    }
    example {
      line   = "[1] a\n\tat x"
      expect = "e n=1i"
    }
  }
}
