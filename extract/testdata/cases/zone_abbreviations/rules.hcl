# Year-less times with and without zone abbreviations, in several zones. The
# year is written into the text before Go parses it, so zones resolve with
# the chosen year's offsets (not year 0's local mean time) and the
# abbreviation picks the offset in a repeated hour.
source "app" {
  paths = ["input.log"]
  rule "los_angeles" {
    regex = "^LA (?P<time>.+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "Jan _2 15:04:05 MST"
      location = "America/Los_Angeles"
    }
    fields = { v = "int" }
  }
  rule "berlin" {
    regex = "^BER (?P<time>.+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "%b %e %H:%M:%S %Z"
      location = "Europe/Berlin"
    }
    fields = { v = "int" }
  }
  rule "kolkata" {
    regex = "^CCU (?P<time>.+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "Jan _2 15:04:05 MST"
      location = "Asia/Kolkata"
    }
    fields = { v = "int" }
  }
  rule "kolkata_syslog" {
    regex = "^CCU-SYSLOG (?P<time>.+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "syslog"
      location = "Asia/Kolkata"
    }
    fields = { v = "int" }
  }
  rule "sydney_syslog" {
    regex = "^SYD (?P<time>.+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "syslog"
      location = "Australia/Sydney"
    }
    fields = { v = "int" }
  }
}
