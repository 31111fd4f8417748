"""Events: message schemas, broker topology, publishing. The only package that talks to RabbitMQ."""
