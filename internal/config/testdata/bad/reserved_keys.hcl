agent {
  tags = { time = "now" }
}
source "app" {
  paths = ["/var/log/app.log"]
  tags  = { service = "shop" }
  rule "lines" {
    logfmt = true
    tags   = { time = "ts", status = "status" }
    fields = { time = "float", status = "int", service = "string" }
  }
}
