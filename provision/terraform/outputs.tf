output "public_ip" {
  description = "Public address of the node (SSH and the Kubernetes API)."
  value       = aws_instance.node.public_ip
}

output "ssh_user" {
  description = "The login user of Flatcar Container Linux."
  value       = "core"
}

output "ssh_port" {
  description = "SSH port of the node."
  value       = 22
}

output "node_name" {
  description = "Name of the node (the Kubernetes node name the scripts use)."
  value       = "${local.name}-node"
}

output "api_endpoint" {
  description = "Kubernetes API URL the fetched kubeconfigs point at."
  value       = "https://${aws_instance.node.public_ip}:6443"
}

output "instance_id" {
  description = "EC2 instance id (aws ec2 get-console-output --instance-id ID shows the SSH host key fingerprints)."
  value       = aws_instance.node.id
}

output "ami_id" {
  description = "The Flatcar AMI the node runs."
  value       = data.aws_ami.flatcar.id
}

output "environment" {
  description = "The workspace (environment) these resources belong to."
  value       = local.environment
}
