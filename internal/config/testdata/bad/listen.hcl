agent {
  listen    = "localhost"
  state_dir = ""
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
