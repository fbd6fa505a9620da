# activityd in a container: the static release binary (make release: no cgo, -trimpath) on an
# empty base image, run as an unprivileged user, with its data in the /data volume.
#
#   make image                                   # dist/activityd, then this image: activityd:latest
#   docker run -d --name activityd -p 8080:8080 -v activityd-data:/data activityd
#   docker exec activityd /activityd user add alice --password-stdin < password.txt
#
# Every flag of serve can be set by its ACTIVITYD_* variable (docker run -e ACTIVITYD_DB=postgres://…).
# The health check asks /readyz on ACTIVITYD_ADDR: a store that cannot serve marks it unhealthy.
FROM scratch
# CA certificates, for trusted issuers' key sets, an external sign-in provider and webhooks (https).
COPY dist/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The data directory and a temporary directory, owned by the user the server runs as.
COPY --chown=65532:65532 dist/empty/ /data/
COPY --chown=65532:65532 dist/empty/ /tmp/
COPY dist/activityd /activityd
USER 65532:65532
# The data directory inside the volume: activityd makes it its owner's only (0700) on first start.
ENV ACTIVITYD_ADDR=:8080 ACTIVITYD_DATA=/data/activityd
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=10s --timeout=6s --start-period=10s --retries=3 CMD ["/activityd", "health"]
ENTRYPOINT ["/activityd"]
CMD ["serve"]
