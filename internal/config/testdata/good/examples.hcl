# Example blocks: any number per rule, a heredoc line, a point that must
# not be made (""), an expect without a timestamp (time not compared), and
# an aggregate rule's example (the window point of its line alone).
source "app" {
  paths = ["logs/app.log"]
  tags  = { service = "shop" } # not part of an example's points
  rule "requests" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix"
    }
    tags   = ["method"]
    fields = { bytes = "int", took = "duration" }
    example {
      line   = "ts=1760104536 method=GET bytes=512 took=13ms"
      expect = "requests,method=GET bytes=512i,took=0.013 1760104536000000000"
    }
    example {
      line   = <<-EOT
        ts=1760104536 method="GET" bytes=512
      EOT
      expect = "requests,method=GET bytes=512i"
    }
    example {
      line   = "ts=1760104536 msg=\"no fields here\""
      expect = ""
    }
  }
  rule "untimed" {
    regex  = "^n=(?P<n>\\d+)$"
    fields = { n = "int" }
    example {
      line   = "n=7"
      expect = "untimed n=7i"
    }
  }
  rule "windows" {
    logfmt = true
    time {
      from   = "ts"
      layout = "unix"
    }
    fields = { bytes = "int" }
    aggregate {
      window = "1m"
      stats  = ["count", "sum"]
    }
    example {
      line   = "ts=1760104536 bytes=512"
      expect = "windows count=1i,bytes_sum=512i 1760104500000000000"
    }
  }
}
