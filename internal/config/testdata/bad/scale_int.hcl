source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    field "bytes" {
      type  = "int"
      scale = 1024
    }
    field "seconds" {
      from  = "ms"
      scale = 0
    }
  }
}
