# Inspect a recipe a team already has: its parameters, steps and canonical JSON.
data "amibake_document" "existing" {
  content = file("${path.module}/update-ami.json")
}

output "required_parameters" {
  value = [for p in data.amibake_document.existing.parameters : p.name if p.required]
}
