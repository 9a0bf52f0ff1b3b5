output "file" {
  path = "/tmp/out"
}
source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
    filter {
      level = "debug"
    }
  }
}
