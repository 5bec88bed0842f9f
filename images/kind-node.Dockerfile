# The kind node image: Debian with systemd, containerd, runc and the CNI
# plugins (BASE, from scripts/images/build-bases.sh or any Debian-like image
# with those packages), plus kubelet, kubeadm and kubectl from the project's
# Kubernetes toolchain. scripts/kind/build-node-image.sh stages bin/ and then
# preloads the control-plane images into containerd.
ARG BASE=dat-operator/base-kind:trixie
FROM ${BASE}
ARG K8S_VERSION
COPY files/ /
COPY bin/ /usr/local/bin/
RUN set -eu; \
    for c in kubelet kubeadm kubectl; do ln -sf /usr/local/bin/dat-toolchain "/usr/bin/${c}"; done; \
    ln -sf /usr/local/bin/crictl /usr/bin/crictl; \
    # systemd as a container's init: only the units a node needs (systemd.io/CONTAINER_INTERFACE).
    rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
          /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
          /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*; \
    find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete; \
    echo 'ReadKMsg=no' >> /etc/systemd/journald.conf; \
    systemctl enable containerd.service kubelet.service >/dev/null 2>&1; \
    systemctl mask systemd-binfmt.service getty.target console-getty.service >/dev/null 2>&1; \
    mkdir -p /etc/cni/net.d /var/lib/kubelet /kind; \
    echo "${K8S_VERSION}" > /kind/version
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/kind-node-entrypoint", "/sbin/init"]
