# The import ID is ZONEID_NAME_TYPE, as in hashicorp/aws.
terraform import homelab_route53_record.airflow Z0123456789ABCDEFGHIJ_airflow.lab.example.com_A
