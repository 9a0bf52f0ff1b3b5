source "app" {
  paths = ["input.log"]
  rule "app_logfmt" {
    logfmt = true
    time {
      from   = "time"
      layout = "rfc3339nano"
    }
    tags   = ["method", "status", "msg"]
    fields = { duration = "duration", bytes = "int", ok = "bool" }
  }
}
