# The reference scenario: one Flatcar Container Linux instance in its own VPC, reachable on
# SSH and the Kubernetes API from control_cidr only. One workspace per environment.

locals {
  environments = {
    staging = {
      vpc_cidr      = "10.10.0.0/16"
      subnet_cidr   = "10.10.1.0/24"
      instance_type = "t3.large"
    }
    production = {
      vpc_cidr      = "10.20.0.0/16"
      subnet_cidr   = "10.20.1.0/24"
      instance_type = "m6i.large"
    }
  }
  environment   = terraform.workspace
  settings      = lookup(local.environments, terraform.workspace, local.environments.staging)
  name          = "kubeproof-${terraform.workspace}"
  instance_type = var.instance_type != "" ? var.instance_type : local.settings.instance_type
}

# Zones pinned by name: the subnet never moves when AWS adds a zone to the region.
data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "zone-name"
    values = ["${var.region}a", "${var.region}b", "${var.region}c"]
  }
}

# The newest Flatcar Container Linux AMI of the channel, published by Flatcar's AWS account.
data "aws_ami" "flatcar" {
  most_recent = true
  owners      = ["075585003325"]

  filter {
    name   = "name"
    values = ["Flatcar-${var.flatcar_channel}-*-hvm"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:VPC flow logs need a log group, a KMS key and a role per run; the VPC lives for one test session and holds one instance whose traffic is limited by its security group.
  cidr_block           = local.settings.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }

  lifecycle {
    precondition {
      condition     = contains(keys(local.environments), terraform.workspace)
      error_message = "select the workspace of an environment: terraform workspace select -or-create staging (or production)."
    }
  }
}

# The VPC's default security group allows nothing (instances use the one below).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${local.name}-default-deny" }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.settings.subnet_cidr
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-public" }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = local.name }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "node" {
  name        = "${local.name}-node"
  description = "kubeproof node: SSH and the Kubernetes API from control_cidr only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${local.name}-node" }
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.node.id
  description       = "SSH from the operator's network only"
  cidr_ipv4         = var.control_cidr
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
}

resource "aws_vpc_security_group_ingress_rule" "api" {
  security_group_id = aws_security_group.node.id
  description       = "Kubernetes API from the operator's network only"
  cidr_ipv4         = var.control_cidr
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
}

# Egress: HTTPS and HTTP only (Kubernetes, Calico and Istio downloads and images; the demo
# app's one registered external host). DNS and NTP go to the VPC resolver and the Amazon Time
# Sync Service, which security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.node.id
  description       = "HTTPS to the internet: downloads, image pulls, the registered host"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.node.id
  description       = "HTTP to the internet: the demo app's registered external host"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_key_pair" "node" {
  key_name   = "${local.name}-node"
  public_key = trimspace(var.ssh_public_key)
}

# Least privilege: the node needs nothing from the AWS API (no cloud provider integration),
# so its role has no policy at all; the instance profile exists so that nothing else (an
# account-wide default) is ever attached to the instance.
data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name                 = "${local.name}-node"
  description          = "kubeproof node: no permissions (the node does not call AWS APIs)"
  assume_role_policy   = data.aws_iam_policy_document.assume_ec2.json
  max_session_duration = 3600
}

resource "aws_iam_instance_profile" "node" {
  name = "${local.name}-node"
  role = aws_iam_role.node.name
}

resource "aws_instance" "node" {
  #checkov:skip=CKV_AWS_88:The scenario's node is reached over SSH and the API from control_cidr; the security group admits nothing else.
  ami                         = data.aws_ami.flatcar.id
  instance_type               = local.instance_type
  subnet_id                   = aws_subnet.public.id
  vpc_security_group_ids      = [aws_security_group.node.id]
  key_name                    = aws_key_pair.node.key_name
  iam_instance_profile        = aws_iam_instance_profile.node.name
  associate_public_ip_address = true
  monitoring                  = true
  ebs_optimized               = true

  # IMDSv2 only, one hop: pods cannot reach the instance metadata through the node.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_gb
    encrypted             = true
    delete_on_termination = true
  }

  tags = { Name = "${local.name}-node" }

  depends_on = [aws_route_table_association.public, aws_internet_gateway.this]
}
