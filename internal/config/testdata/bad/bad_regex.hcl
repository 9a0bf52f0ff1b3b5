source "app" {
  paths = ["/var/log/app.log"]
  rule "broken" {
    regex = <<-EOT
      ^(?P<n>\d+ (?P<rest>.*$
    EOT
    fields = { n = "int" }
  }
  rule "fine" {
    regex  = "(?P<n>\\d+)"
    fields = { n = "int" }
  }
}
