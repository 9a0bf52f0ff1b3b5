# Example blocks the loader refuses.
source "app" {
  paths = ["logs/app.log"]
  rule "timed" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix"
    }
    fields = { n = "int" }
    example {
      line   = "ts=1 n=1"
      expect = "timed n=1i,"
    }
    example {
      line   = "ts=1 n=1"
      expect = <<-EOT
        timed n=1i 1000000000
        timed n=
      EOT
    }
    example {
      line = "ts=1 n=1\nts=2 n=2"
      expect = ""
    }
    example {
      line = "ts=1 n=1"
    }
    example "named" {
      line   = "ts=1 n=1"
      expect = ""
    }
  }
  rule "untimed" {
    regex  = "^n=(?P<n>\\d+)$"
    fields = { n = "int" }
    example {
      line   = "n=7"
      expect = "untimed n=7i 1760104536000000000"
    }
  }
}
