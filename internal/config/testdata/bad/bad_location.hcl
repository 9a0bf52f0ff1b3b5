source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    time {
      from     = "ts"
      layout   = "2006-01-02 15:04:05"
      location = "Mars/Olympus_Mons"
    }
    fields = { n = "int" }
  }
}
