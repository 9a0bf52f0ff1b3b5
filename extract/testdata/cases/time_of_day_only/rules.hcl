# A time of day alone takes the latest date that does not put it more than
# an hour (dateTolerance) after the file's modification time, 2025-03-10
# 00:30 UTC: 01:30:00.000 is that day, 01:30:00.001 and 23:59 the day before.
source "app" {
  paths = ["input.log"]
  rule "clock" {
    regex = "^(?P<time>\\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "15:04:05.000"
    }
    fields = { v = "int" }
  }
  rule "clock_berlin" {
    regex = "^BER (?P<time>\\S+) v=(?P<v>\\d+)$"
    time {
      from     = "time"
      layout   = "%H:%M:%S"
      location = "Europe/Berlin"
    }
    fields = { v = "int" }
  }
}
