agent {
  listen = ""
}
agent {
  listen = ":9275"
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
