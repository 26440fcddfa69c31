variable "region" {
  description = "AWS region of the reference scenario."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "control_cidr" {
  description = "The only network allowed to reach SSH (22) and the Kubernetes API (6443): the operator's address, e.g. 203.0.113.7/32. There is deliberately no default."
  type        = string

  validation {
    condition     = can(cidrhost(var.control_cidr, 0)) && can(regex("^[0-9.]+/[0-9]+$", var.control_cidr))
    error_message = "control_cidr must be an IPv4 CIDR such as 203.0.113.7/32."
  }

  validation {
    condition     = can(regex("/([0-9]+)$", var.control_cidr)) && try(tonumber(regex("/([0-9]+)$", var.control_cidr)[0]) >= 16, false)
    error_message = "control_cidr must be /16 or narrower: SSH and the API must never be open to the internet (0.0.0.0/0)."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key that logs in as the ssh user (kubeproof passes the public half of --ssh-key or of its generated key)."
  type        = string

  validation {
    condition     = can(regex("^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$", trimspace(var.ssh_public_key)))
    error_message = "ssh_public_key must be one OpenSSH public key line (ssh-ed25519, ecdsa-sha2-* or ssh-rsa)."
  }
}

variable "flatcar_channel" {
  description = "Flatcar Container Linux release channel whose newest AMI the instance runs."
  type        = string
  default     = "stable"

  validation {
    condition     = contains(["stable", "beta", "alpha", "lts"], var.flatcar_channel)
    error_message = "flatcar_channel must be one of stable, beta, alpha, lts."
  }
}

variable "instance_type" {
  description = "EC2 instance type; empty picks the workspace's default (see locals in main.tf)."
  type        = string
  default     = ""

  validation {
    condition     = var.instance_type == "" || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as t3.large, or empty."
  }
}

variable "root_volume_gb" {
  description = "Size of the encrypted root volume in GiB."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_gb >= 20 && var.root_volume_gb <= 200
    error_message = "root_volume_gb must be between 20 and 200."
  }
}
