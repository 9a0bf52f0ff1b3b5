source "app" {
  paths = ["/var/log/app.log"
  rule "lines" {
}
