source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    tags   = ["level"]
  }
}
source "empty" {
  paths = []
}
