# custra-proxy image: Debian 12's nginx (1.22), the tenant-sharding gRPC
# proxy of deploy/k8s. Needs no files from the repository:
#   docker build -f deploy/docker/proxy.Dockerfile -t custra-proxy:0.1.0 deploy/docker
# The configuration (nginx.conf and run.sh) comes from the ConfigMap
# custra-proxy (deploy/k8s/proxy-configmap.yaml), mounted at /etc/custra-proxy.
FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/*
# www-data (uid 33): nginx runs unprivileged, listens on 50051 and writes
# only under /tmp (pid, temp files); logs go to stdout/stderr.
USER 33:33
EXPOSE 50051
ENTRYPOINT ["/bin/sh", "/etc/custra-proxy/run.sh"]
