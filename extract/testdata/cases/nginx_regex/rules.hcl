agent {
  tags = { host = "web01", service = "agent-default" }
}
source "nginx" {
  paths = ["input.log"]
  tags  = { service = "shop" }
  rule "nginx_requests" {
    regex = <<-EOT
      ^(?P<client>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "02/Jan/2006:15:04:05 -0700"
    }
    tags   = ["method", "status"]
    fields = { bytes = "int", request_time = "float" }
  }
}
