source "app" {
  paths = ["/var/log/app.log"]
  rule "go" {
    logfmt = true
    time {
      from   = "ts"
      layout = "YYYY-MM-DD hh:mm:ss"
    }
    fields = { n = "int" }
  }
  rule "strftime" {
    logfmt = true
    time {
      from   = "ts"
      layout = "%Y-%m-%d %Q"
    }
    fields = { n = "int" }
  }
}
