"""Event-driven functions: what calls a function when something happens.

  mapping    an event source mapping's fields (Lambda's names), checked
  store      mappings, their runtime state and async events, on disk
  clock      the real clock, and a manual one the tests advance
  runner     runs every enabled mapping while `fn serve` runs
  source     one mapping's thread: counters, state, problems, calls
  schedules  rate(...)/cron(...) rules (triggers.cron parses them)
  rabbitmq   a RabbitMQ queue (Lambda's Amazon MQ source, aws:rmq)
  sqs        an SQS queue (aws:sqs), and S3 notifications through one
  s3events   S3 notification events: filters, MinIO/Ceph webhook bodies
  asyncq     the durable queue of asynchronous invocations: retries,
             maximum age, on-failure destinations
  invoke_config  PutFunctionEventInvokeConfig's settings per function

boto3 and pika are imported only by the sources that need them
(pip install 'pycontain[triggers]').
"""
