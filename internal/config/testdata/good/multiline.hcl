influxdb {
  url    = "http://127.0.0.1:8086"
  bucket = "logs"
}

source "java" {
  paths = ["/var/log/app.log"]
  multiline {
    start     = "^\\d{4}-\\d\\d-\\d\\d "
    max_lines = 200
    timeout   = "500ms"
  }
  rule "exceptions" {
    regex = "(?s)^(?P<time>\\S+ \\S+) (?P<level>[A-Z]+) (?P<message>[^\\n]*)\\n(?P<exception>[\\w.]+Exception)"
    time {
      from   = "time"
      layout = "2006-01-02 15:04:05"
    }
    tags   = ["level", "exception"]
    fields = { message = "string" }
    example {
      line   = <<-EOT
        2025-10-10 13:55:36 ERROR request failed
        java.lang.IllegalStateException: boom
        	at com.example.App.main(App.java:7)
      EOT
      expect = "exceptions,exception=java.lang.IllegalStateException,level=ERROR message=\"request failed\" 1760104536000000000"
    }
  }
}
