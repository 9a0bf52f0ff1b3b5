source "nginx" {
  paths = ["input.log"]
  rule "nginx_traffic" {
    measurement = "traffic"
    regex = <<-EOT
      \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) .* (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "%d/%b/%Y:%H:%M:%S %z"
    }
    tags   = { status_class = "status" }
    fields = { bytes = "int", request_time = "float" }
  }
}
